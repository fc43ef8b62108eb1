/*
 * The module's metrics: the counters' shared memory made at startup, the
 * requests counted as they are logged, the handler bbtoken-metrics
 * (Prometheus's text format) and a section of mod_status's page.
 */
#ifndef BBT_METRICS_H
#define BBT_METRICS_H

#include "apr_pools.h"

void bbt_metrics_register_hooks(apr_pool_t *p);

#endif
