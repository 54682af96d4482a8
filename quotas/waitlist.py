"""Placeholder for the waitlist offer being written on main (issue 17): offers what is free in a call's
track pools to the next waitlisted applications. This branch codes against its signature; the merge of
main replaces this file with the real one."""


def waitlist_offer(*, call, actor) -> list:
    return []
