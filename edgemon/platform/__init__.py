"""What machine is this (Jetson + L4T, Raspberry Pi, generic Linux): see :mod:`edgemon.platform.detect`."""
