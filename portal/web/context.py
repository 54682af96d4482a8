"""Template context: the viewer's roles, so templates can show the right navigation."""


def roles(request):
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    return {
        "is_staff_user": authenticated and user.is_staff,
        "is_reviewer_user": authenticated and user.is_reviewer,
    }
