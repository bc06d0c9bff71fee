"""What a student sees: widgets, HTML tables, figures, exercises, the U diagram and the explorer."""
