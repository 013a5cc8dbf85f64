/**
 * The search for secrets written into text: every test that asks "does this hold a secret?" asks it this
 * way, so a secret cannot hide behind an encoding one test forgot.
 */

/**
 * The base64 text that encodes `secret` wherever it starts in a larger encoded value (a Secret's `data`,
 * `user:password` in a basic-auth header): one form per alignment, without the characters that also
 * depend on the bytes around it.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret);
  return [0, 1, 2].flatMap((pad) => {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString("base64");
    const start = Math.ceil((pad * 4) / 3);
    const end = Math.floor(((pad + bytes.length) * 8) / 6);
    const inner = encoded.slice(start, end);
    return [inner, inner.replace(/\+/g, "-").replace(/\//g, "_")];
  });
}

/** Every way the program could write a secret into text: as is, JSON-escaped, base64 (any alignment), hex, URL-encoded. */
export function encodings(secret: string): string[] {
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    ...base64Forms(secret),
    Buffer.from(secret).toString("hex"),
    encodeURIComponent(secret),
  ];
}

/** The secrets among `secrets` that `value` holds, in any of their encodings. */
export function leaksIn(value: unknown, secrets: Iterable<string>): string[] {
  const text = JSON.stringify(value);
  return [...secrets].filter((s) => encodings(s).some((e) => text.includes(e)));
}
