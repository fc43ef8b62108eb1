/* Address groups: an address's /24 or /64, as text and back, lists. */
#include "bbt_agroup.h"
#include "tap.h"

#include <string.h>

static const char *str(const char *ip, char *buf, size_t cap)
{
    bbt_agroup_t g;

    if (bbt_agroup_of(ip, &g) != 0) {
        return "(none)";
    }
    return bbt_agroup_str(&g, buf, cap) ? buf : "(too long)";
}

static void test_of(void)
{
    char b[BBT_AGROUP_TEXT];
    bbt_agroup_t g, h;

    is_str(str("127.0.0.1", b, sizeof(b)), "127.0.0.0/24", "IPv4: its /24");
    is_str(str("192.168.100.254", b, sizeof(b)), "192.168.100.0/24",
           "the last byte goes");
    is_str(str("::1", b, sizeof(b)), "::/64", "IPv6 loopback: ::/64");
    is_str(str("2001:db8:aaaa:bbbb:1:2:3:4", b, sizeof(b)),
           "2001:db8:aaaa:bbbb::/64", "IPv6: its /64");
    is_str(str("::ffff:10.1.2.3", b, sizeof(b)), "10.1.2.0/24",
           "IPv4-mapped: the IPv4 address's /24");
    is_str(str("10.1.2", b, sizeof(b)), "(none)", "not an address");
    is_str(str("", b, sizeof(b)), "(none)", "empty");
    ok(bbt_agroup_of(NULL, &g) == -1, "NULL: none");
    ok(bbt_agroup_of("10.1.2.3", &g) == 0 && !bbt_agroup_str(&g, b, 8),
       "a buffer too small: NULL");
    bbt_agroup_of("10.1.2.3", &g);
    bbt_agroup_of("::ffff:10.1.2.200", &h);
    ok(bbt_agroup_in(&g, 1, &h), "an address and its mapped form: one group");
    bbt_agroup_of("10.1.3.3", &h);
    ok(!bbt_agroup_in(&g, 1, &h), "the next /24: another");
}

/* An IPv6 address that carries an IPv4 client's: mapped, NAT64's
 * well-known prefix, 6to4; nothing else. */
static void test_v4_inside(void)
{
    char b[BBT_AGROUP_TEXT], t[16];
    static const struct {
        const char *ip, *group, *text;
    } c[] = {{"64:ff9b::cb00:7109", "203.0.113.0/24", "203.0.113.9"},
             {"64:ff9b::203.0.113.9", "203.0.113.0/24", "203.0.113.9"},
             {"2002:cb00:7109::1", "203.0.113.0/24", "203.0.113.9"},
             {"2002:cb00:7109:ffff:1:2:3:4", "203.0.113.0/24", "203.0.113.9"},
             {"::ffff:10.1.2.3", "10.1.2.0/24", "10.1.2.3"},
             /* Not one: the local-use prefix (its IPv4 is elsewhere), another
              * /96 beside the well-known one, a 2002 that is not 6to4's /16. */
             {"64:ff9b:1::cb00:7109", "64:ff9b:1::/64", "64:ff9b:1::cb00:7109"},
             {"64:ff9b::1:cb00:7109", "64:ff9b::/64", "64:ff9b::1:cb00:7109"},
             {"2003:cb00:7109::1", "2003:cb00:7109::/64", "2003:cb00:7109::1"},
             {"2001:db8::1", "2001:db8::/64", "2001:db8::1"},
             {"203.0.113.9", "203.0.113.0/24", "203.0.113.9"},
             {"x", "(none)", "x"}};
    size_t i;

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        is_str(str(c[i].ip, b, sizeof(b)), c[i].group, "%s: group", c[i].ip);
        is_str(bbt_agroup_v4_text(c[i].ip, t, sizeof(t)), c[i].text,
               "%s: counted as", c[i].ip);
    }
    ok(bbt_agroup_v4_text(NULL, t, sizeof(t)) == NULL, "NULL: NULL");
}

static void test_list(void)
{
    bbt_agroup_t l[4], g;
    char b[BBT_AGROUP_TEXT];
    int n;

    n = bbt_agroup_list("127.0.0.0/24 ::/64 2001:db8:0:1::/64", l, 4);
    is_int(n, 3, "three groups read");
    is_str(bbt_agroup_str(&l[2], b, sizeof(b)), "2001:db8:0:1::/64",
           "in order");
    n = bbt_agroup_list("10.0.0.0/8 10.0.0.1/24 ::1/64 10.0.0.0/24  "
                        "10.0.0.0/24 nonsense",
                        l, 4);
    is_int(n, 1, "other masks, host parts, repeats and junk skipped");
    is_int(bbt_agroup_list("", l, 4), 0, "empty: none");
    n = bbt_agroup_list("1.0.0.0/24 2.0.0.0/24 3.0.0.0/24 4.0.0.0/24 "
                        "5.0.0.0/24",
                        l, 4);
    is_int(n, 4, "no more than max");

    bbt_agroup_of("6.0.0.1", &g);
    bbt_agroup_add(l, &n, 4, &g);
    is_int(n, 4, "full: still max");
    is_str(bbt_agroup_str(&l[0], b, sizeof(b)), "2.0.0.0/24",
           "the oldest went");
    ok(bbt_agroup_in(l, n, &g), "the new one is in");
    bbt_agroup_add(l, &n, 4, &g);
    is_str(bbt_agroup_str(&l[0], b, sizeof(b)), "2.0.0.0/24",
           "a known one is not added again");
}

int main(void)
{
    test_of();
    test_v4_inside();
    test_list();
    return done_testing();
}
