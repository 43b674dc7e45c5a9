//! Deploy an image to Amazon ECS: new revision, update, wait until really stable, roll back on failure; status, rollback, lock, one-off tasks
