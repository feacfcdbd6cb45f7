"""The work layer on viewflow: who must act next, task queues per role and organisation, assignment, timers and
reminders — on top of the state machines (workflows), whose fsm rows stay the single truth."""
