/*
 * A test-only authn provider, "keeper", for t/49-password-providers.t.  It
 * behaves as real providers may:
 *
 *   - it keeps the password it is given and reads it again later, as
 *     mod_authnz_ldap does to bind as the user in the authz phase
 *     (AuthLDAPCompareAsUser, AuthLDAPSearchAsUser).  A fixup compares the
 *     kept pointer with a copy taken at check time and answers
 *     "X-Keeper-Password: intact" or "changed";
 *   - for user kim it names the user itself, as AuthLDAPRemoteUserAttribute
 *     does: r->user becomes "kimberly"; for user proj, "project:PROJ" (an
 *     attribute a user may set to anything);
 *   - it says it was asked ("X-Keeper-Asked: USER", on any answer, 401
 *     included), so a test can tell what reached a provider at all;
 *   - for user odd it gives an answer httpd 2.4's check_password contract
 *     does not have: the value httpd's trunk calls AUTH_HANDLED, with
 *     r->status set to 503, as a provider built for that API would.
 *
 * It grants kim (password kim-Pa55-word), lee (lee-Pa55-word) and proj
 * (proj-Pa55-word).  Never
 * load it outside the tests.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_request.h"
#include "mod_auth.h"
#include "ap_provider.h"
#include "apr_strings.h"

#include <string.h>

module AP_MODULE_DECLARE_DATA bbt_keeper_module;

typedef struct {
    const char *kept; /* the pointer the provider was given */
    const char *copy; /* what it pointed to then */
} keeper_req_t;

static authn_status keeper_check_password(request_rec *r, const char *user,
                                          const char *password)
{
    keeper_req_t *k;

    apr_table_setn(r->err_headers_out, "X-Keeper-Asked",
                   apr_pstrdup(r->pool, user));
    if (strcmp(user, "odd") == 0) {
        r->status = HTTP_SERVICE_UNAVAILABLE;
        return (authn_status)(AUTH_GENERAL_ERROR + 1);
    }
    if (strcmp(user, "kim") != 0 && strcmp(user, "lee") != 0 &&
        strcmp(user, "proj") != 0) {
        return AUTH_USER_NOT_FOUND;
    }
    if (strcmp(password, apr_pstrcat(r->pool, user, "-Pa55-word", NULL))) {
        return AUTH_DENIED;
    }
    k = apr_pcalloc(r->pool, sizeof(*k));
    k->kept = password;
    k->copy = apr_pstrdup(r->pool, password);
    ap_set_module_config(r->request_config, &bbt_keeper_module, k);
    if (strcmp(user, "kim") == 0) {
        r->user = apr_pstrdup(r->pool, "kimberly");
    } else if (strcmp(user, "proj") == 0) {
        r->user = apr_pstrdup(r->pool, "project:PROJ");
    }
    return AUTH_GRANTED;
}

static int keeper_fixups(request_rec *r)
{
    keeper_req_t *k =
        ap_get_module_config(r->request_config, &bbt_keeper_module);

    if (k) {
        apr_table_setn(r->err_headers_out, "X-Keeper-Password",
                       strcmp(k->kept, k->copy) == 0 ? "intact" : "changed");
    }
    return DECLINED;
}

static const authn_provider keeper_provider = {
    &keeper_check_password,
    NULL,
};

static void keeper_register_hooks(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "keeper",
                              AUTHN_PROVIDER_VERSION, &keeper_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(keeper_fixups, NULL, NULL, APR_HOOK_LAST);
}

AP_DECLARE_MODULE(bbt_keeper) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    keeper_register_hooks,
    AP_MODULE_FLAG_NONE,
};
