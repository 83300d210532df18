"""The advisor: statute articles and mediation outlines beside the consultation video.

It sits at the bottom of the import graph: it imports nothing from `server/`, `signaling/` or
`room/`; the server hands it what it needs.
"""
