/*
 * The row of the lookup a thread last parsed (bbt_lookuprow.h), kept with
 * the text it was parsed from.  The same text again (a token asked for
 * again with nothing of its row changed: every request of a CI system
 * between two last-use writes, with the cache off) gets the same answer
 * without its strict parse.  The parse is a function of the text alone,
 * so the answer is the parse's own: the cut text copied into the caller's
 * buffer, and the row with its pointers moved onto that copy.  A row
 * longer than BBT_ROWMEMO_MAX (an owner's long level map) is parsed every
 * time.  This file knows nothing of httpd.
 */
#ifndef BBT_ROWMEMO_H
#define BBT_ROWMEMO_H

#include <stddef.h>

#include "bbt_lookuprow.h"

#define BBT_ROWMEMO_MAX 2048

/* 1 when this thread last kept exactly text (len bytes): the cut text
 * into buf (len + 1 bytes) and the row, its pointers into buf, into out.
 * Else 0, and buf and out untouched. */
int bbt_rowmemo_get(const char *text, size_t len, char *buf,
                    bbt_lookuprow_t *out);

/* Parse the text this thread keeps once more and throw the answer away:
 * the work a get spared, for a caller that must not answer sooner for it
 * (a refusal).  Nothing kept: nothing done. */
void bbt_rowmemo_redo(void);

/* Keep text (len bytes) as parsed: cut (len + 1 bytes) is the buffer
 * bbt_lookuprow_parse cut it in, row what it made of it.  Nothing kept
 * (and what was, forgotten) for a text longer than BBT_ROWMEMO_MAX. */
void bbt_rowmemo_put(const char *text, size_t len, const char *cut,
                     const bbt_lookuprow_t *row);

#endif
