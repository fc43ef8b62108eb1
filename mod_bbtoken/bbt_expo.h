/*
 * The counters as text: Prometheus's text exposition format (version
 * 0.0.4) for the metrics handler, and mod_status's section, from a
 * snapshot.  Every metric's name, labels, type and help text are here, in
 * one table.  This file knows nothing of httpd: it is unit-tested alone.
 */
#ifndef BBT_EXPO_H
#define BBT_EXPO_H

#include <stddef.h>

#include "bbt_stats.h"

/* The content type of bbt_expo_prometheus's text. */
#define BBT_EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Where the text goes, a piece at a time. */
typedef void (*bbt_expo_emit_t)(void *ctx, const char *text, size_t len);

/* Every metric of snap, with bbtoken_build_info{version="version"}. */
void bbt_expo_prometheus(const bbt_stats_snap_t *snap, const char *version,
                         bbt_expo_emit_t emit, void *ctx);

/* mod_status's section: "BBTokenKey: value" lines for its machine-readable
 * page (?auto), or an HTML table (html). */
void bbt_expo_status(const bbt_stats_snap_t *snap, int html,
                     bbt_expo_emit_t emit, void *ctx);

#endif
