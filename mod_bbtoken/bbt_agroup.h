/*
 * Address groups: where a token is used from, as the new-address audit
 * counts it.  An IPv4 address's group is its /24, an IPv6 address's its
 * /64 (one site, one household's prefix): a client that moves within one
 * is not news, one that shows up in another is.  An IPv4-mapped IPv6
 * address is its IPv4 address.
 *
 * Nothing here knows httpd or APR: the C library's inet_pton and
 * inet_ntop.
 */
#ifndef BBT_AGROUP_H
#define BBT_AGROUP_H

#include <stddef.h>

/* How many groups a token keeps (the database keeps as many, the most
 * recent: sql/migrations/0012_where.sql). */
#define BBT_AGROUPS_MAX 16
/* A group as text: "2001:db8:aaaa:bbbb::/64", "192.168.100.0/24". */
#define BBT_AGROUP_TEXT 48

typedef struct {
    unsigned char family; /* 4 or 6 */
    unsigned char net[8]; /* the group's leading bytes: 3 (IPv4) or 8 */
} bbt_agroup_t;

/* The group of client address ip (text, as httpd reports it).  0, or -1
 * if ip is not an address. */
int bbt_agroup_of(const char *ip, bbt_agroup_t *g);

/* g as text ("10.1.2.0/24", "2001:db8::/64") into buf; buf, or NULL if it
 * does not fit. */
const char *bbt_agroup_str(const bbt_agroup_t *g, char *buf, size_t cap);

/* Parse a space-separated list of groups as text (the database's cidr
 * output) into out[0..max): how many were read.  Anything that is not a
 * group (another mask, a host part) is skipped. */
int bbt_agroup_list(const char *text, bbt_agroup_t *out, int max);

/* Is g one of list[0..n)? */
int bbt_agroup_in(const bbt_agroup_t *list, int n, const bbt_agroup_t *g);

/* Add g to list[0..*n) (max entries; when full, the oldest, list[0], goes:
 * the list is oldest first). */
void bbt_agroup_add(bbt_agroup_t *list, int *n, int max, const bbt_agroup_t *g);

#endif
