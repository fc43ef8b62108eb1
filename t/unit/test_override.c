/* Method overrides: the headers and the _method parameter a backend may
 * run a request as another method by, and which of them the module lets
 * through (bbt_override.h). */
#include "bbt_override.h"
#include "tap.h"

static void header(const char *name, int want)
{
    is_int(bbt_override_header(name), want, "header name '%s': %s", name,
           want ? "an override" : "not one");
}

static void value(const char *method, const char *v, int want)
{
    is_int(bbt_override_value_ok(method, v), want, "%s with '%s': %s", method,
           v, want ? "passes" : "refused");
}

static void query(const char *method, const char *args, int want)
{
    is_int(bbt_override_query_ok(method, args), want, "%s ?%s: %s", method,
           args ? args : "(none)", want ? "passes" : "refused");
}

static void test_headers(void)
{
    header("X-HTTP-Method-Override", 1);
    header("X-HTTP-Method", 1);
    header("X-Method-Override", 1);
    header("x-http-method-override", 1);
    header("X-HTTP-METHOD-OVERRIDE", 1);
    header("x-HtTp-MeThOd", 1);
    /* Read as the same CGI-like variable by a server that maps headers. */
    header("X_HTTP_Method_Override", 1);
    header("x_http_method", 1);
    header("X-Method_Override", 1);
    /* Other headers, and near misses. */
    header("X-HTTP-Method-Overrid", 0);
    header("X-HTTP-Method-Override2", 0);
    header("X-HTTP-Methods", 0);
    header("X-HTTP-Method ", 0);
    header("X-Method", 0);
    header("X-Override", 0);
    header("HTTP-Method-Override", 0);
    header("Y-HTTP-Method", 0);
    header("X.HTTP.Method", 0);
    header("X-Forwarded-For", 0);
    header("Authorization", 0);
    header("X", 0);
    header("", 0);
}

static void test_values(void)
{
    value("POST", "POST", 1);
    value("DELETE", "DELETE", 1);
    value("POST", " POST\t", 1);
    /* A repeated header, as httpd joins it. */
    value("POST", "POST, POST", 1);
    value("POST", "POST,POST,\tPOST", 1);
    value("POST", "DELETE", 0);
    value("GET", "DELETE", 0);
    value("POST", "PUT", 0);
    value("POST", "PATCH", 0);
    value("POST", "POST, DELETE", 0);
    value("POST", "DELETE, POST", 0);
    value("POST", "POST,", 0);
    value("POST", ",POST", 0);
    value("POST", "POST,,POST", 0);
    /* Exactly: a backend that does not upper-case reads another method,
     * and "POSTX" or "POS" are other words. */
    value("POST", "post", 0);
    value("POST", "Post", 0);
    value("POST", "POSTX", 0);
    value("POST", "POS", 0);
    value("POST", "PO ST", 0);
    value("POST", "", 0);
    value("POST", " ", 0);
    value("", "", 0);
}

static void test_query(void)
{
    query("POST", NULL, 1);
    query("POST", "", 1);
    query("GET", "service=git-upload-pack", 1);
    query("POST", "method=DELETE", 1);
    query("POST", "x_method=DELETE", 1);
    query("POST", "_methods=DELETE", 1);
    query("POST", "_metho=DELETE", 1);
    query("POST", "a=_method%3DDELETE", 1);
    query("POST", "a=1&b=_method", 1);
    /* The request's own method passes. */
    query("POST", "_method=POST", 1);
    query("POST", "a=1&_method=POST&_method=P%4FST", 1);
    query("GET", "_method=GET", 1);
    /* Another method, however the name is spelled. */
    query("POST", "_method=DELETE", 0);
    query("GET", "_method=DELETE", 0);
    query("POST", "a=1&_method=DELETE", 0);
    query("POST", "a=1;_method=DELETE", 0);
    query("POST", "_method=POST&_method=DELETE", 0);
    query("POST", "_METHOD=DELETE", 0);
    query("POST", "_Method=PUT", 0);
    query("POST", "%5Fmethod=DELETE", 0);
    query("POST", "%5fMeThOd=DELETE", 0);
    query("POST", "_%6Dethod=DELETE", 0);
    query("POST", ".method=DELETE", 0);
    query("POST", "+_method=DELETE", 0);
    query("POST", "%20%20_method=DELETE", 0);
    query("POST", "_method[]=DELETE", 0);
    query("POST", "_method%5B%5D=DELETE", 0);
    query("POST", "_method%00x=DELETE", 0);
    /* A value that is not the method exactly. */
    query("POST", "_method=post", 0);
    query("POST", "_method=", 0);
    query("POST", "_method", 0);
    query("POST", "_method=POST+", 0);
    query("POST", "_method=POST%00", 0);
    query("POST", "_method=%50OST%", 0);
    query("POST", "_method=POST=", 0);
    /* Broken escapes stay as they are: nothing is read past the end. */
    query("POST", "_method=%", 0);
    query("POST", "_method=%4", 0);
    query("POST", "%", 1);
    query("POST", "%5", 1);
    query("POST", "_%", 1);
    query("POST", "&&;;==", 1);
    query("", "_method=", 0);
}

int main(void)
{
    test_headers();
    test_values();
    test_query();
    return done_testing();
}
