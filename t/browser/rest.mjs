// The REST API as the specs' user calls it beside the page: to make the
// tokens a test starts from, read what the page did, and revoke what a
// test made, even when it failed.
import assert from 'node:assert/strict';

// rest, listed and sweep for a user: api is their token list
// (.../users/NAME), headers what every request carries (their login, and
// Content-Type where bodies are sent), sweeps the lists sweep() empties.
export function restAs(api, headers, sweeps = [api]) {
  // A request to base + path that must succeed: its answer, parsed.
  async function rest(method, path, body, base = api) {
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // The tokens in base's list.
  const listed = async (base = api) => (await rest('GET', '?limit=1000', undefined, base)).values;

  // Revokes the tokens of the sweeps' lists whose names start with one of
  // prefixes, or every one when none are given.
  async function sweep(...prefixes) {
    for (const base of sweeps) {
      for (const t of await listed(base)) {
        if (!prefixes.length || prefixes.some((p) => t.name.startsWith(p))) await rest('DELETE', '/' + t.id, undefined, base);
      }
    }
  }

  return { rest, listed, sweep };
}
