-- Keep vectors in the row (a 384-d vector is 1.5 kB) rather than compressed or moved out
-- to TOAST with the text beside them: an exact scan reads every vector of a collection, and
-- fetching each from TOAST cost more than the distance itself. Applies to rows written
-- from now on.
ALTER TABLE bellhop_chunks ALTER COLUMN embedding SET STORAGE MAIN;
