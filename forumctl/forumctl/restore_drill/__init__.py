"""forumctl restore-drill: restore the tables to a scratch copy, compare, report, clean up."""
