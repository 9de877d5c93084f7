"""The offline quickstart: the whole judgecache loop on real text that every Python install has."""
