/*
 * Method overrides: what a backend behind the module may run a request as
 * instead of its request line's method.  Many frameworks run a POST (or a
 * GET) as the method an X-HTTP-Method-Override, X-HTTP-Method or
 * X-Method-Override header names, and Symfony, Laravel and Express take a
 * _method query parameter.  Routes decide the request line's method, so a
 * request whose override names another one is refused: it would have the
 * backend do what its route never allowed.  Nothing here knows httpd:
 * bbt_overglue.c asks it for every request of the module's sections.
 */
#ifndef BBT_OVERRIDE_H
#define BBT_OVERRIDE_H

/* 1 if a request header named name is a method override as a backend
 * reads its name: X-HTTP-Method-Override, X-HTTP-Method or
 * X-Method-Override in any case, with "_" for any "-" (a server that maps
 * headers into a CGI-like environment reads X_HTTP_Method_Override as
 * the same variable). */
int bbt_override_header(const char *name);

/* 1 if value, one such header's value, asks for method alone: every
 * comma-separated element of it (httpd joins a repeated header so),
 * spaces and tabs trimmed, is method exactly, byte for byte.  An empty
 * value or element is not. */
int bbt_override_value_ok(const char *method, const char *value);

/* 1 if args, a raw query string (NULL: none), holds no _method parameter
 * but ones whose value is method exactly.  Parameters end at "&" or ";";
 * names and values are percent-decoded ("+" a space; a broken escape
 * stays as it is).  A name is _method in any case, and as PHP also reads
 * it: after leading spaces, with "." for "_", and cut at "[" (an array)
 * or a %00. */
int bbt_override_query_ok(const char *method, const char *args);

#endif
