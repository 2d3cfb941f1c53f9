"""SoccerNet data: class list, labels, the games table, frame stores and datasets."""
