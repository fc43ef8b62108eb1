/*
 * Each request thread's memory of the salts the database last gave for a
 * few token ids.  With it the module can hash a presented token before
 * asking the database, and send that hash with the lookup, which then
 * gives the owner's level too when the hash is the stored one: one
 * statement for a token the thread has seen, instead of two.
 *
 * A salt is stored beside its hash and proves nothing alone; it is wiped
 * all the same when its slot is taken, and never logged.  Nothing here is
 * trusted: a salt that is out of date (the secret changed, or the id is
 * another virtual host's database's) only costs the second statement.
 * This file knows nothing of httpd.
 */
#ifndef BBT_SALTMEMO_H
#define BBT_SALTMEMO_H

#include "bbt_input.h"
#include "bbt_token.h"

/* Slots per thread: a thread serves a token or two over and over (a CI
 * job's fetches), far fewer than this. */
#define BBT_SALTMEMO_SLOTS 8

/* 1 and id's salt in salt, if this thread remembers one; else 0. */
int bbt_saltmemo_get(const char *id, char salt[BBT_SALT_HEX_LEN + 1]);

/* The database gave salt for id.  A slot id has already is refreshed;
 * otherwise, only if add, the oldest slot is taken (and wiped first).
 * A malformed id or salt is not kept. */
void bbt_saltmemo_put(const char *id, const char *salt, int add);

/* Wipe every slot of this thread. */
void bbt_saltmemo_clear(void);

#endif
