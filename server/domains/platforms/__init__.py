"""The two branded platforms served by one deployment, chosen by the request's host."""
