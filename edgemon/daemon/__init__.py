"""The session in its own process (``edgemon run`` with the dashboard, ``--detach``) and its control socket."""
