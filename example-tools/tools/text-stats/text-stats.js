#!/usr/bin/env node
// text-stats: counts and reading time for a text.
//
// jsonrpc script protocol: one request line per call on stdin, one response line on stdout,
// until stdin closes.
"use strict";

const INVALID_PARAMS = -32602;
const STOP_WORDS = new Set(
  ("a an and are as at be but by for from has have he her his i if in into is it its me my " +
   "no not of on or our she so that the their them then there these they this to was we were " +
   "what when which who will with you your").split(" ")
);

function reply(id, message) {
  process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, ...message }) + "\n");
}

function fail(id, message) {
  reply(id, { error: { code: INVALID_PARAMS, message } });
}

// Words: runs of letters or digits, allowing inner apostrophes and hyphens ("don't", "e-mail").
const WORD = /[\p{L}\p{N}]+(?:['\u2019-][\p{L}\p{N}]+)*/gu;

function stats(args) {
  const text = args.text;
  const wpm = Number.isInteger(args.wordsPerMinute) ? args.wordsPerMinute : 238;
  const top = Number.isInteger(args.topWords) ? args.topWords : 5;

  const words = text.match(WORD) || [];
  const trimmed = text.trim();
  // A sentence ends at . ! ? (or a run of them) followed by a space or the end; text without
  // terminal punctuation still counts as one sentence.
  const sentences = trimmed ? (trimmed.match(/[^.!?]*[.!?]+(?=\s|$)/g) || []).length : 0;
  const endsOpen = trimmed && !/[.!?]["')\]]*$/.test(trimmed);
  const sentenceCount = sentences + (endsOpen ? 1 : 0);
  const paragraphs = trimmed ? trimmed.split(/\n\s*\n/).filter((p) => p.trim()).length : 0;
  const lines = text === "" ? 0 : text.replace(/\n$/, "").split("\n").length;
  const chars = Array.from(text); // count code points, not UTF-16 units

  const counts = new Map();
  for (const w of words) {
    const key = w.toLowerCase();
    if (key.length < 2 || STOP_WORDS.has(key) || /^\d+$/.test(key)) continue;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const topWords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, top)
    .map(([word, count]) => ({ word, count }));

  const minutes = words.length / wpm;
  return {
    characters: chars.length,
    charactersNoSpaces: chars.filter((c) => !/\s/u.test(c)).length,
    words: words.length,
    lines,
    sentences: sentenceCount,
    paragraphs,
    averageSentenceWords: sentenceCount ? Math.round((words.length / sentenceCount) * 10) / 10 : 0,
    readingTimeMinutes: Math.round(minutes * 10) / 10,
    readingTime: minutes < 1 ? "< 1 min" : `${Math.round(minutes)} min`,
    topWords,
  };
}

function handle(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    reply(null, { error: { code: -32700, message: `could not parse the request: ${err.message}` } });
    return;
  }
  const id = request.id ?? 1;
  const args = (request.params && request.params.arguments) || {};
  if (typeof args.text !== "string") {
    fail(id, "`text` is required and must be a string");
    return;
  }
  reply(id, { result: stats(args) });
}

// One call per request line until stdin closes: a worker (`worker` in the manifest) answers
// many, a one-shot run one.
const lines = require("readline").createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim()) handle(line);
});
