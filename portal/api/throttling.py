from rest_framework.throttling import SimpleRateThrottle


class PartnerClientThrottle(SimpleRateThrottle):
    scope = "partner"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
