#!/usr/bin/env node
// `npx fusebox ...`: the npm bin shim. Registers tsx's loader, then runs scripts/fusebox.ts.
import { register } from 'tsx/esm/api';

process.env.FUSEBOX_CLI_SHIM = '1';
register();
await import('./fusebox.ts');
