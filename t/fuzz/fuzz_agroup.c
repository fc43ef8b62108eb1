/*
 * libFuzzer target: address groups (bbt_agroup.h) from a hostile client
 * address (a proxy's X-Forwarded-For through mod_remoteip reaches here) and
 * hostile group lists.  The first byte picks which.  Held to the contract:
 *
 * - an address's group is its /24 or /64 (an IPv4-mapped address's, its
 *   IPv4 /24), written as text that fits BBT_AGROUP_TEXT and reads back as
 *   the same group;
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
    } else if (g.family == 4) {
        if (memcmp(g.net, a + 12, 3) != 0 || a[10] != 0xff || a[11] != 0xff) {
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
