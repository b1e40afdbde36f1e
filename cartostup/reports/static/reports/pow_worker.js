/* Cartostup – proof of work for a public submission, computed off the page's thread.
 * SPDX-License-Identifier: AGPL-3.0-or-later
 *
 * Finds a `nonce` such that SHA-256(challenge + ":" + nonce), UTF-8, starts with `difficulty`
 * zero bits (the rule of GET /api/public/v1/challenge). WebCrypto only; nothing leaves the device.
 */
"use strict";

var BATCH = 128;

function leadingZeroBits(bytes) {
  var bits = 0;
  for (var i = 0; i < bytes.length; i += 1) {
    var byte = bytes[i];
    if (byte === 0) { bits += 8; continue; }
    for (var mask = 0x80; mask > 0 && (byte & mask) === 0; mask >>= 1) { bits += 1; }
    return bits;
  }
  return bits;
}

self.onmessage = async function (event) {
  var challenge = String(event.data.challenge);
  var difficulty = Number(event.data.difficulty) || 0;
  var encoder = new TextEncoder();
  var expected = Math.pow(2, difficulty);
  var start = 0;
  try {
    for (;;) {
      var pending = [];
      for (var i = 0; i < BATCH; i += 1) {
        pending.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + (start + i))));
      }
      var digests = await Promise.all(pending);
      for (var j = 0; j < BATCH; j += 1) {
        if (leadingZeroBits(new Uint8Array(digests[j])) >= difficulty) {
          self.postMessage({ nonce: String(start + j) });
          return;
        }
      }
      start += BATCH;
      // Probability of having found it by now: an honest estimate for the progress bar.
      self.postMessage({ progress: Math.min(0.99, 1 - Math.exp(-start / expected)) });
    }
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
