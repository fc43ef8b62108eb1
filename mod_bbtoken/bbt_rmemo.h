/*
 * Each thread's memory of the last few requests it routed.  Matching is a
 * pure function of the routes, the method, the path, the query string and
 * whether a Destination is routed; a thread that serves the same request
 * over and over (a CI job's info/refs and upload-pack, polling clients)
 * runs every pattern before the matching one each time.  The answer is
 * taken from memory only for exactly the same inputs and the same list of
 * routes (bbt_rules_serial), so it is the answer matching would give;
 * a match that could not run to its end (bbt_match_t errored) is never
 * kept.  Nothing here knows httpd.
 */
#ifndef BBT_RMEMO_H
#define BBT_RMEMO_H

#include "bbt_rules.h"

/* Requests remembered per thread, and the longest remembered (method, path
 * and query string together); a longer one is matched every time. */
#define BBT_RMEMO_SLOTS 4
#define BBT_RMEMO_TEXT 512

/* bbt_rules_match, answered from this thread's memory when it holds the
 * same request for the same rules. */
bbt_route_result_t bbt_rmemo_match(const bbt_rules_t *rules, const char *method,
                                   const char *path, const char *args,
                                   int destination, bbt_match_t *out);

/* How many answers came from memory on this thread: for the unit tests. */
unsigned long bbt_rmemo_hits(void);

#endif
