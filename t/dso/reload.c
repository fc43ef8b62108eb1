/*
 * Load a shared object holding the route language, make a route list, and
 * unload it again, as httpd does with the module on every restart.  Usage:
 * reload LIBRARY TIMES.  Exits 0 when every load could make its list.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int i, n;

    if (argc != 3)
        return 2;
    n = atoi(argv[2]);
    for (i = 0; i < n; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        void *(*make)(void);
        void (*drop)(void *);
        void *rs;

        if (!h) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        *(void **)&make = dlsym(h, "bbt_rules_new");
        *(void **)&drop = dlsym(h, "bbt_rules_free");
        if (!make || !drop) {
            printf("dlsym: %s\n", dlerror());
            return 1;
        }
        rs = make();
        if (!rs) {
            printf("load %d could not make a route list\n", i + 1);
            return 1;
        }
        drop(rs);
        dlclose(h);
    }
    printf("%d loads\n", n);
    return 0;
}
