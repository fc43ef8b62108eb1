/*
 * Where a request comes from, as a token sees it: whether the client is in
 * the token's allow-list, and whether it is in an address group the token
 * was not known to have been used from.  The client is the one httpd
 * reports (r->useragent_ip and r->useragent_addr): the connection's peer,
 * or what mod_remoteip made of a trusted proxy's header.  No header is read
 * here.
 */
#ifndef BBT_WHERE_H
#define BBT_WHERE_H

#include "httpd.h"

#include "bbt_agroup.h"

/* r's client address as text for the database and address groups:
 * r->useragent_ip without the zone a link-local IPv6 address carries
 * ("fe80::1%eth0" is "fe80::1"), which neither PostgreSQL's inet nor
 * inet_pton takes; NULL if httpd has none. */
const char *bbt_where_ip(request_rec *r);

/* Is r's client in nets (the allow-list as the database spells it:
 * "10.0.0.0/8 2001:db8::/32"; NULL or "" for anywhere)?  A list that
 * cannot be read refuses (logged: BBT603). */
int bbt_where_allowed(request_rec *r, const char *nets);

/* Is r's client outside every group of known[0..n)?  1 and its group in
 * *g, or 0 (known, or no address to group). */
int bbt_where_new_group(request_rec *r, const bbt_agroup_t *known, int n,
                        bbt_agroup_t *g);

#endif
