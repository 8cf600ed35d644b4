"""Session reports: an HTML file with inline SVG plots (html.py, svg.py) or terminal charts (terminal.py).

Import the submodules directly; this package imports nothing.
"""
