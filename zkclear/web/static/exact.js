// The verifier's JSON as the page reads it (worker.js): every integer JavaScript cannot hold exactly (beyond 2^53: a
// balance of 9 billion USDC in 6-decimal units) kept as its decimal text, never rounded to a number the venue did not
// commit (red team session 13). That needs JSON.parse to hand over each number's source text, which browsers added
// in 2023-2025: in one without it such a figure is refused, where the page showed it rounded (red team session 16).
export function parseExact(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
    if (context && /^-?\d+$/.test(context.source)) return context.source;
    throw new Error("this browser cannot show a figure above 2^53 exactly (its JSON.parse gives no number's source " +
      "text): use a current browser, or zkclear verify");
  });
}
