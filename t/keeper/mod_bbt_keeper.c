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
 *     r->status set to 503, as a provider built for that API would;
 *   - it logs each call ("keeper asked for USER", at notice), so a test can
 *     count the calls a request's sub-requests make too, whose headers no
 *     client sees;
 *   - for a user it knows it hands the user's password hash to
 *     mod_authn_socache when that is loaded, before checking the password,
 *     as mod_authn_file does (ap_authn_cache_store, module name "keeper").
 *
 * It grants kim (password kim-Pa55-word), lee (lee-Pa55-word) and proj
 * (proj-Pa55-word).  Never
 * load it outside the tests.
 */
#include "httpd.h"
#include "http_config.h"
#include "http_request.h"
#include "http_log.h"
#include "mod_auth.h"
#include "ap_provider.h"
#include "apr_strings.h"
#include "apr_md5.h"
#include "apr_optional.h"

#include <string.h>

/* Declared here, not by AP_DECLARE_MODULE below, so that its log lines
 * are its own ("LogLevel bbt_keeper:notice"). */
APLOG_USE_MODULE(bbt_keeper);

static APR_OPTIONAL_FN_TYPE(ap_authn_cache_store) * keeper_cache_store;

typedef struct {
    const char *kept; /* the pointer the provider was given */
    const char *copy; /* what it pointed to then */
} keeper_req_t;

static authn_status keeper_check_password(request_rec *r, const char *user,
                                          const char *password)
{
    keeper_req_t *k;
    const char *good;
    char hash[120];

    apr_table_setn(r->err_headers_out, "X-Keeper-Asked",
                   apr_pstrdup(r->pool, user));
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "keeper asked for %s",
                  ap_escape_logitem(r->pool, user));
    if (strcmp(user, "odd") == 0) {
        r->status = HTTP_SERVICE_UNAVAILABLE;
        return (authn_status)(AUTH_GENERAL_ERROR + 1);
    }
    if (strcmp(user, "kim") != 0 && strcmp(user, "lee") != 0 &&
        strcmp(user, "proj") != 0) {
        return AUTH_USER_NOT_FOUND;
    }
    good = apr_pstrcat(r->pool, user, "-Pa55-word", NULL);
    /* The hash of the user's own password, whatever password was given:
     * the cache then answers a wrong one AUTH_DENIED, as it does for
     * mod_authn_file's. */
    if (keeper_cache_store && apr_md5_encode(good, "$apr1$keeper$", hash,
                                             sizeof(hash)) == APR_SUCCESS) {
        keeper_cache_store(r, "keeper", user, NULL, hash);
    }
    if (strcmp(password, good)) {
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

static void keeper_optional_fns(void)
{
    keeper_cache_store = APR_RETRIEVE_OPTIONAL_FN(ap_authn_cache_store);
}

static void keeper_register_hooks(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, "keeper",
                              AUTHN_PROVIDER_VERSION, &keeper_provider,
                              AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(keeper_fixups, NULL, NULL, APR_HOOK_LAST);
    ap_hook_optional_fn_retrieve(keeper_optional_fns, NULL, NULL,
                                 APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA bbt_keeper_module = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    keeper_register_hooks,
    AP_MODULE_FLAG_NONE,
};
