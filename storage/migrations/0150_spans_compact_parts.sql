-- spans: a part written by an insert stays Compact (every column in one file) up to 64 MiB of
-- uncompressed data, instead of going Wide (a file, with its own compression and write buffers,
-- for every column and sub-stream: about 70 for spans' 33 columns with their NULL maps and the
-- Map's keys, values and offsets) from ClickHouse's default of 10 MiB. The sink inserts up to
-- 50,000 spans at once (about 15 MiB), which went Wide: writing such a part cost chDB 4.1-4.6 µs
-- a row, Compact 2.4-2.7 (spans without its views, 50,000 rows an insert, three alternating
-- pairs; BENCHMARKS.md, Finding 9). Merges past 64 MiB still write Wide parts, so big parts keep
-- a file per column for long scans. Re-running is harmless.
ALTER TABLE spans MODIFY SETTING min_bytes_for_wide_part = 67108864;
