-- Write every chunk's words into the keyword index at once rather than into GIN's pending
-- list. While the list is long (after a bulk load, until a vacuum merges it) the planner
-- costs the index as scanning the whole list and reads every chunk row instead, five times
-- slower; a write costs a little more instead.
ALTER INDEX bellhop_chunks_keywords SET (fastupdate = off);
