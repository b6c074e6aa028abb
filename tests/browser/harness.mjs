// What the browser tests share: the real `bellhop serve --demo` on a free loopback port with
// a temporary data directory, and Debian's Chromium. Builds nothing: run the tests after
// `cargo build`, with BELLHOP_BIN pointing at another binary if need be.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
const bellhop = process.env.BELLHOP_BIN || path.join(repo, 'target/debug/bellhop');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
/** Where to save the README's screenshots, when set. */
export const screenshots = process.env.BELLHOP_SCREENSHOTS || '';
export const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The demo's ingest at startup takes about a minute on a laptop. */
const STARTUP_MS = 150_000;

/**
 * Starts `bellhop serve` on a free loopback port over a fresh data directory: with the demo
 * hotel (`demo`), and with a config file's text (`config`), if given. Resolves with its
 * address and a `stop` that ends it and deletes the directory.
 */
export async function startServer({ demo = true, config } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bellhop-browser-'));
  const args = ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir];
  if (demo) {
    args.push('--demo');
  }
  if (config) {
    const file = path.join(dataDir, 'bellhop.toml');
    writeFileSync(file, config);
    args.push('--config', file);
  }
  const server = spawn(bellhop, args, {
    cwd: repo,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' }
  });
  // Each ends past the address: stderr may arrive cut anywhere, mid-address included.
  const ready = demo
    ? /demo hotel page with the guest widget: (http:\/\/\S+)\/demo/
    : /bellhop listening on (http:\/\/\S+)\n/;
  const stop = () => {
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const base = await new Promise((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log}`)), STARTUP_MS);
      server.stderr.setEncoding('utf8');
      server.stderr.on('data', (chunk) => {
        log += chunk;
        const address = log.match(ready);
        if (address) {
          clearTimeout(timer);
          resolve(address[1]);
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code}:\n${log}`));
      });
    });
    return { base, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * Starts the demo server and Chromium; resolves with the server's address, the browser and
 * a `stop` that ends both.
 */
export async function startDemo() {
  const [server, browser] = await Promise.allSettled([
    startServer(),
    chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking']
    })
  ]);
  const stop = async () => {
    if (browser.status === 'fulfilled') {
      await browser.value.close();
    }
    if (server.status === 'fulfilled') {
      server.value.stop();
    }
  };
  if (server.status === 'rejected' || browser.status === 'rejected') {
    await stop();
    throw server.reason || browser.reason;
  }
  return { base: server.value.base, browser: browser.value, stop };
}

/** A page with the console's errors collected (CSP refusals among them). */
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  return { context, page, errors };
}

/** axe-core's serious and critical violations on the page, within `include` if given. */
export async function blockingViolations(page, include) {
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate((context) => window.axe.run(context || document, {
    resultTypes: ['violations']
  }), include || null);
  return results.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`);
}
