# One image for every Fusebox service; docker-compose.yml picks the entry point per container.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY schemas ./schemas
COPY streams ./streams
COPY log ./log
COPY storage ./storage
COPY services ./services
COPY client ./client
COPY scripts ./scripts
COPY tsconfig.json ./
USER node
ENV NODE_ENV=production
# The services' V8 flags (services/node-flags.ts says why): keep the two in step.
ENV NODE_OPTIONS="--max-semi-space-size=64"
CMD ["npx", "tsx", "services/processor/main.ts"]
