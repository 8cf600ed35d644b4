"""Crash-safe session recordings (docs/architecture.md "Recording layout").

writer.Recorder (record), reader.open_recording (read, also while growing),
recover.recover (finish what a crash left), listing (the sessions and their state),
naming.default_session_dir. Import the submodules directly; this package imports nothing.
"""
