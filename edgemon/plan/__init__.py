"""Session profiles (TOML) and the run plan they become: repetitions, cool-down, baseline, schedule."""
