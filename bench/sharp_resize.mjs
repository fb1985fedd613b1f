// The peer of imgup's image pipeline (bench/pipeline.sh, issue 3): sharp's two resizes of one
// file, as the issue defines them, in one node process:
//   sharp(buf).rotate().resize(E, E, {fit: 'inside'}).webp({quality: 80}).toBuffer()
// for E = 1024 and E = 256, one after the other (concurrency 1: one image at a time; sharp's own
// libvips thread pool has its default size: sharp.concurrency(), which sharp sets to 1 on glibc
// Linux without jemalloc, as here). Each pipeline decodes the file itself, as a sharp user writes
// it.
//
//   node bench/sharp_resize.mjs FILE [ITERATIONS] [WARMUP] [PARALLEL_ITERATIONS]
//
// Prints one line `SHARP_RESULT key=value ...`: wall ms per job (median, min, mean), CPU ms per
// job (user + system of the whole process), peak RSS of the process (maxRSS) after the
// sequential runs, and for reference the same job with both pipelines started together
// (Promise.all; PARALLEL_ITERATIONS jobs after the same warm-up). The operation cache is off
// (sharp.cache(false)), as in imgup: a cache hit on the same input bytes would measure the
// cache, not the work. SHARP_CONCURRENCY=N in the environment: sharp.concurrency(N) first.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import sharp from 'sharp';

const [file, iterationsArg = '10', warmupArg = '2', parallelArg = '3'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node sharp_resize.mjs FILE [ITERATIONS] [WARMUP] [PARALLEL_ITERATIONS]');
  process.exit(2);
}
const iterations = Math.max(1, Number.parseInt(iterationsArg, 10));
const warmup = Math.max(0, Number.parseInt(warmupArg, 10));
const parallelIterations = Math.max(1, Number.parseInt(parallelArg, 10));
sharp.cache(false);
// SHARP_CONCURRENCY=N sets sharp.concurrency(N) (libvips threads per image); unset: sharp's default.
if (process.env.SHARP_CONCURRENCY) sharp.concurrency(Number.parseInt(process.env.SHARP_CONCURRENCY, 10));

const input = readFileSync(file);
const rssBaseMb = process.resourceUsage().maxRSS / 1024;

const variant = (edge) =>
  sharp(input)
    .rotate()
    .resize(edge, edge, { fit: 'inside' })
    .webp({ quality: 80 })
    .toBuffer({ resolveWithObject: true });

async function sequential() {
  const medium = await variant(1024);
  const thumb = await variant(256);
  return [medium, thumb];
}

async function parallel() {
  return Promise.all([variant(1024), variant(256)]);
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function measure(job, iterations) {
  for (let i = 0; i < warmup; ++i) await job();
  const wall = [];
  let last;
  const cpuStart = cpuMs();
  for (let i = 0; i < iterations; ++i) {
    const start = performance.now();
    last = await job();
    wall.push(performance.now() - start);
  }
  const cpu = (cpuMs() - cpuStart) / iterations;
  const sorted = [...wall].sort((a, b) => a - b);
  const mean = wall.reduce((a, b) => a + b, 0) / wall.length;
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], mean, cpu, last };
}

const seq = await measure(sequential, iterations);
const rssMb = process.resourceUsage().maxRSS / 1024;
const par = await measure(parallel, parallelIterations);
const [medium, thumb] = seq.last;
const f = (v) => v.toFixed(1);
console.log(
  [
    'SHARP_RESULT',
    `file=${file}`,
    `bytes=${input.length}`,
    `iterations=${iterations}`,
    `median_ms=${f(seq.median)}`,
    `min_ms=${f(seq.min)}`,
    `mean_ms=${f(seq.mean)}`,
    `cpu_ms=${f(seq.cpu)}`,
    `rss_mb=${f(rssMb)}`,
    `rss_base_mb=${f(rssBaseMb)}`,
    `par_median_ms=${f(par.median)}`,
    `par_min_ms=${f(par.min)}`,
    `par_cpu_ms=${f(par.cpu)}`,
    `medium=${medium.info.width}x${medium.info.height}:${medium.data.length}`,
    `thumb=${thumb.info.width}x${thumb.info.height}:${thumb.data.length}`,
    `sharp=${sharp.versions.sharp}`,
    `libvips=${sharp.versions.vips}`,
    `concurrency=${sharp.concurrency()}`,
  ].join(' '),
);
