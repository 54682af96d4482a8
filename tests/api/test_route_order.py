"""The API's routes may be listed in any order (the busiest first, portal/api/urls.py): no path that one
route matches is matched by another."""

import re
import uuid

from portal.api.urls import urlpatterns


def example_path(route: str) -> str:
    return re.sub(r"<uuid:\w+>", str(uuid.UUID(int=7)), route)


def test_every_routes_example_path_is_matched_by_that_route_alone():
    routes = [str(pattern.pattern) for pattern in urlpatterns]
    assert len(routes) == len(set(routes)) > 100
    for route in routes:
        path = example_path(route)
        matching = [str(pattern.pattern) for pattern in urlpatterns if pattern.resolve(path)]
        assert matching == [route], path
