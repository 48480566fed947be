"""Every measure in one place: the directions' evaluation protocol (Spearman, dominance, drift) and ACD."""
