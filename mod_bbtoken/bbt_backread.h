/*
 * A routed path as a backend may read it once httpd has handed it on:
 * its escapes decoded again, a backslash taken for a slash, a segment's
 * ;parameter dropped.  The route the path matched must hold for that
 * reading too (bbt_routing.c asks, for a request's path and for its
 * Destination).  Nothing here knows httpd.
 */
#ifndef BBT_BACKREAD_H
#define BBT_BACKREAD_H

#include "bbt_rules.h"

/* How many times a backend may be taken to decode a path's escapes: %25
 * decodes to %, so a %252e is a "." to one that decodes twice.  A path
 * that still holds an escape after so many is refused. */
#define BBT_BACKREAD_DECODES 3

/* 1 when path, which matched mp (under method, args and destination, as
 * bbt_rules_match takes them), is read by a backend as the same route on
 * the same target; 0 when it is not, or when memory ran out. */
int bbt_backread_agrees(const bbt_rules_t *rules, const char *method,
                        const char *path, const char *args, int destination,
                        const bbt_match_t *mp);

#endif
