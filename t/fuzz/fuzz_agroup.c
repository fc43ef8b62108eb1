/*
 * libFuzzer target: address groups (bbt_agroup.h) from a hostile client
 * address (a proxy's X-Forwarded-For through mod_remoteip reaches here) and
 * hostile group lists.  The first byte picks which.  Held to the contract:
 *
 * - an address's group is its /24 or /64 (one that carries an IPv4
 *   client's, mapped, NAT64 or 6to4: that IPv4 address's /24), written as
 *   text that fits BBT_AGROUP_TEXT and reads back as the same group;
 * - a list reads at most max groups, each once, each one that writes and
 *   reads back as itself; adding to a full list keeps it full, distinct
 *   and holding the newcomer.
 *
 * Any broken rule aborts.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbt_agroup.h"

static void fz_round_trip(const bbt_agroup_t *g)
{
    char text[BBT_AGROUP_TEXT];
    bbt_agroup_t back;

    if (!bbt_agroup_str(g, text, sizeof(text)) ||
        bbt_agroup_list(text, &back, 1) != 1 || back.family != g->family ||
        memcmp(back.net, g->net, sizeof(g->net)) != 0) {
        abort();
    }
}

/* Where an IPv6 address carries an IPv4 client's, or NULL: ::ffff:0:0/96,
 * NAT64's 64:ff9b::/96 (the last four bytes), 6to4's 2002::/16 (the two
 * after its prefix). */
static const unsigned char *fz_v4_inside(const unsigned char a[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};

    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        return a + 12;
    }
    return a[0] == 0x20 && a[1] == 0x02 ? a + 2 : NULL;
}

static void fz_address(const char *ip)
{
    unsigned char a[16];
    bbt_agroup_t g;

    if (bbt_agroup_of(ip, &g) != 0) {
        if (inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1) {
            abort();
        }
        return;
    }
    if (inet_pton(AF_INET, ip, a) == 1) {
        if (g.family != 4 || memcmp(g.net, a, 3) != 0) {
            abort();
        }
    } else if (inet_pton(AF_INET6, ip, a) != 1) {
        abort();
    } else if (fz_v4_inside(a)) {
        if (g.family != 4 || memcmp(g.net, fz_v4_inside(a), 3) != 0) {
            abort();
        }
    } else if (g.family != 6 || memcmp(g.net, a, 8) != 0) {
        abort();
    }
    fz_round_trip(&g);
}

static void fz_list(const char *text, int max)
{
    bbt_agroup_t list[BBT_AGROUPS_MAX + 1], g;
    int n = bbt_agroup_list(text, list, max), i, j;

    if (n < 0 || n > max) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (list[i].family != 4 && list[i].family != 6) {
            abort();
        }
        for (j = 0; j < i; j++) {
            if (bbt_agroup_in(&list[j], 1, &list[i])) {
                abort();
            }
        }
        fz_round_trip(&list[i]);
    }
    if (n > 0 && bbt_agroup_of("192.0.2.1", &g) == 0) {
        int before = n;

        bbt_agroup_add(list, &n, max, &g);
        if (n < before || n > max || !bbt_agroup_in(list, n, &g)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (size < 1 || !(s = malloc(size))) {
        return 0;
    }
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] & 1) {
        fz_list(s, 1 + (data[0] >> 1) % BBT_AGROUPS_MAX);
    } else {
        fz_address(s);
    }
    free(s);
    return 0;
}
