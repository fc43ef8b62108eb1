/*
 * Address groups (see bbt_agroup.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bbt_agroup.h"

/* An IPv4-mapped IPv6 address: ::ffff:a.b.c.d. */
static const unsigned char bbt_v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};
/* NAT64's well-known prefix, 64:ff9b::/96. */
static const unsigned char bbt_nat64[12] = {0x00, 0x64, 0xff, 0x9b};

int bbt_agroup_v4_inside(const unsigned char *a, unsigned char *v4)
{
    if (memcmp(a, bbt_v4mapped, sizeof(bbt_v4mapped)) == 0 ||
        memcmp(a, bbt_nat64, sizeof(bbt_nat64)) == 0) {
        memcpy(v4, a + 12, 4);
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return 1;
    }
    return 0;
}

const char *bbt_agroup_v4_text(const char *ip, char *buf, size_t cap)
{
    unsigned char a[16], v4[4];

    if (ip && inet_pton(AF_INET6, ip, a) == 1 && bbt_agroup_v4_inside(a, v4) &&
        inet_ntop(AF_INET, v4, buf, (socklen_t)cap)) {
        return buf;
    }
    return ip;
}

int bbt_agroup_of(const char *ip, bbt_agroup_t *g)
{
    unsigned char a[16], v4[4];

    memset(g, 0, sizeof(*g));
    if (!ip) {
        return -1;
    }
    if (inet_pton(AF_INET, ip, a) == 1) {
        g->family = 4;
        memcpy(g->net, a, 3);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        if (bbt_agroup_v4_inside(a, v4)) {
            g->family = 4;
            memcpy(g->net, v4, 3);
        } else {
            g->family = 6;
            memcpy(g->net, a, 8);
        }
        return 0;
    }
    return -1;
}

const char *bbt_agroup_str(const bbt_agroup_t *g, char *buf, size_t cap)
{
    unsigned char a[16];
    char ip[INET6_ADDRSTRLEN];
    int n;

    memset(a, 0, sizeof(a));
    if (g->family == 4) {
        memcpy(a, g->net, 3);
    } else if (g->family == 6) {
        memcpy(a, g->net, 8);
    } else {
        return NULL;
    }
    if (!inet_ntop(g->family == 4 ? AF_INET : AF_INET6, a, ip, sizeof(ip))) {
        return NULL;
    }
    n = snprintf(buf, cap, "%s/%d", ip, g->family == 4 ? 24 : 64);
    return n > 0 && (size_t)n < cap ? buf : NULL;
}

/* One group as text, "addr/24" or "addr/64" with nothing past the mask. */
static int bbt_agroup_parse(const char *s, size_t len, bbt_agroup_t *g)
{
    char ip[BBT_AGROUP_TEXT];
    const char *slash = memchr(s, '/', len);
    size_t iplen, i;
    unsigned char a[16];

    if (!slash || (iplen = (size_t)(slash - s)) >= sizeof(ip)) {
        return -1;
    }
    memcpy(ip, s, iplen);
    ip[iplen] = '\0';
    memset(g, 0, sizeof(*g));
    if (len - iplen == 3 && memcmp(slash, "/24", 3) == 0 &&
        inet_pton(AF_INET, ip, a) == 1 && a[3] == 0) {
        g->family = 4;
        memcpy(g->net, a, 3);
        return 0;
    }
    if (len - iplen == 3 && memcmp(slash, "/64", 3) == 0 &&
        inet_pton(AF_INET6, ip, a) == 1) {
        for (i = 8; i < 16; i++) {
            if (a[i]) {
                return -1;
            }
        }
        g->family = 6;
        memcpy(g->net, a, 8);
        return 0;
    }
    return -1;
}

int bbt_agroup_list(const char *text, bbt_agroup_t *out, int max)
{
    const char *p = text;
    int n = 0;

    while (p && *p && n < max) {
        size_t len = strcspn(p, " ");

        if (len && bbt_agroup_parse(p, len, &out[n]) == 0 &&
            !bbt_agroup_in(out, n, &out[n])) {
            n++;
        }
        p += len;
        p += strspn(p, " ");
    }
    return n;
}

int bbt_agroup_in(const bbt_agroup_t *list, int n, const bbt_agroup_t *g)
{
    int i;

    for (i = 0; i < n; i++) {
        if (list[i].family == g->family &&
            memcmp(list[i].net, g->net, sizeof(g->net)) == 0) {
            return 1;
        }
    }
    return 0;
}

void bbt_agroup_add(bbt_agroup_t *list, int *n, int max, const bbt_agroup_t *g)
{
    if (max <= 0 || bbt_agroup_in(list, *n, g)) {
        return;
    }
    if (*n >= max) {
        memmove(list, list + 1, sizeof(*list) * (size_t)(max - 1));
        *n = max - 1;
    }
    list[(*n)++] = *g;
}
