-- Migration 48: an unused-token policy leaves room for its warning: at
-- least 8 days.
--
-- Applied inside one transaction by `bbtoken db upgrade` (or by
-- sql/schema.sql), never on its own: no BEGIN/COMMIT here.
--
-- bbtoken notify warns a token's owner 7 days before the policy would
-- revoke it (when the token has been idle for revoke_unused_after less 7
-- days), and revokes it no sooner than 7 days after that warning.  Under a
-- policy of 7 days or less the warning was due the moment a token was used:
-- every token in use was warned on every run after each use, a new one at
-- once, and the revocation came 7 days after the warning whatever the
-- policy said.  So the policy is 8 days at the least; a site's shorter one
-- becomes 8 days, recorded in the audit trail as a policy_changed by
-- whoever runs the upgrade (the nearest to what it did: 7 days of warning,
-- after a day idle).

UPDATE bbtoken_policy SET revoke_unused_after = interval '8 days'
 WHERE revoke_unused_after < interval '8 days';

ALTER TABLE bbtoken_policy
    DROP CONSTRAINT bbtoken_policy_revoke_unused_after,
    ADD CONSTRAINT bbtoken_policy_revoke_unused_after
        CHECK (revoke_unused_after BETWEEN interval '8 days'
                                       AND interval '36500 days');

UPDATE bbtoken_schema SET version = 48;
