/*
 * Address groups: where a token is used from, as the new-address audit
 * counts it.  An IPv4 address's group is its /24, an IPv6 address's its
 * /64 (one site, one household's prefix): a client that moves within one
 * is not news, one that shows up in another is.  An IPv6 address that
 * carries an IPv4 client's address is that address (bbt_agroup_v4_inside).
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

/* The IPv4 address the IPv6 address a (16 bytes) carries, into v4 (4
 * bytes), and 1; else 0.  Each is an IPv4 client's: IPv4-mapped
 * (::ffff:a.b.c.d), through a NAT64 translator's well-known prefix
 * (64:ff9b::/96, RFC 6052: every client of one translator shares its
 * /64), and 6to4's (2002:AABB:CCDD::/48, RFC 3056: one IPv4 host holds
 * 65,536 /64s).  The failed-login throttle and the leak report's limit
 * count such a client as its IPv4 address, as the groups do. */
int bbt_agroup_v4_inside(const unsigned char *a, unsigned char *v4);

/* ip as text, or, when it is an IPv6 address that carries an IPv4 one,
 * that IPv4 address as text in buf (cap bytes, INET_ADDRSTRLEN at least). */
const char *bbt_agroup_v4_text(const char *ip, char *buf, size_t cap);

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
