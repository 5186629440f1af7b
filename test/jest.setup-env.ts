// Access logs would drown the test report; a failing test still prints its own errors.
process.env.LOG_LEVEL ??= 'warn';
