# SPDX-License-Identifier: Apache-2.0
"""Authentication (bearer tokens the tests can change at run time; client certificates signed by
the stand-in's CA: CN is the user, O the groups) and authorization (RBAC-style rules per user,
deny rules for chosen verbs/resources, everything allowed for system:masters)."""
import threading

from .errors import forbidden

ADMIN_USER = "standin-admin"
MASTERS = "system:masters"


class User:
    def __init__(self, name, groups=()):
        self.name = name
        self.groups = list(groups)

    def as_dict(self):
        return {"username": self.name, "groups": self.groups}


def _rule_matches(rule, verb, group, resource, subresource, name):
    res = resource + ("/" + subresource if subresource else "")
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    if "*" not in groups and group not in groups:
        return False
    if "*" not in resources and res not in resources and not (subresource is None and resource in resources) \
            and f"*/{subresource}" not in resources:
        return False
    if "*" not in verbs and verb not in verbs:
        return False
    if names and (name is None or name not in names):
        return False
    return True


class Auth:
    def __init__(self, admin_token):
        self.lock = threading.Lock()
        self.admin_token = admin_token
        self.tokens = {}
        self.rbac = {}      # user -> list of PolicyRules; a user listed here gets only these
        self.deny = []      # rules (with optional "users") that are refused even if allowed

    # -- tokens -----------------------------------------------------------------------------

    def set_tokens(self, tokens):
        """tokens: {token: {"user": name, "groups": [...]}}; replaces every token but the admin's."""
        with self.lock:
            self.tokens = {t: User(v["user"], v.get("groups", ())) for t, v in tokens.items()}

    def add_token(self, token, user, groups=()):
        with self.lock:
            self.tokens[token] = User(user, groups)

    def remove_token(self, token):
        with self.lock:
            return self.tokens.pop(token, None) is not None

    def authenticate(self, authorization, peer_cert):
        """The user of a request, or None (401)."""
        if authorization:
            parts = authorization.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                tok = parts[1].strip()
                if tok == self.admin_token:
                    return User(ADMIN_USER, [MASTERS, "system:authenticated"])
                with self.lock:
                    u = self.tokens.get(tok)
                if u is not None:
                    return User(u.name, u.groups + ["system:authenticated"])
            return None  # a bad token is a 401 even when a client certificate is offered
        if peer_cert:
            cn, orgs = None, []
            for rdn in peer_cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        orgs.append(v)
            if cn:
                return User(cn, orgs + ["system:authenticated"])
        return None

    # -- authorization ----------------------------------------------------------------------

    def set_rules(self, user, rules):
        with self.lock:
            if rules is None:
                self.rbac.pop(user, None)
            else:
                self.rbac[user] = list(rules)

    def add_deny(self, rule):
        with self.lock:
            self.deny.append(dict(rule))

    def clear(self):
        with self.lock:
            self.rbac.clear()
            self.deny.clear()

    def authorize(self, user, verb, group, resource, subresource, name, namespace):
        """Raises a 403 Status error naming the user, verb and resource when refused."""
        if MASTERS in user.groups:
            return
        with self.lock:
            deny = list(self.deny)
            rules = self.rbac.get(user.name)
        for r in deny:
            users = r.get("users")
            if users and user.name not in users:
                continue
            if _rule_matches(r, verb, group, resource, subresource, name):
                raise forbidden(user.name, verb, (group, resource), name, namespace, subresource)
        if rules is not None and not any(_rule_matches(r, verb, group, resource, subresource, name) for r in rules):
            raise forbidden(user.name, verb, (group, resource), name, namespace, subresource)
