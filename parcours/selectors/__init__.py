"""Selectors: the one read path, scoped by roles.policy. `core` holds the shared ones; each page area adds
its module (participants, register, employer) and re-exports here."""

from parcours.selectors.core import *  # noqa: F401,F403
from parcours.selectors.core import (  # noqa: F401
    FEW_ROWS,
    MACHINE_MODELS,
    MACHINE_VIEW_ACTIONS,
    allows,
    among_its_rows,
    contracts_running,
    count_by_state,
    home_rows,
    hours_lines_for,
    lots_for,
    lots_with_realised_hours,
    offers_for,
    participant_assessments,
    participant_file,
    participant_placements,
    participant_referrals,
    participant_timeline,
    participants_for,
    pathways_for,
    placements_for,
    referrals_for,
    referrals_to_cancel,
    stateful_object_for,
)
from parcours.selectors.data_protection import (  # noqa: F401,E402
    access_log_for,
    participant_access_log,
    subject_access_data,
)
from parcours.selectors.journal import (  # noqa: F401,E402
    contact_hidden,
    object_events,
    participant_events,
    present_events,
    pseudonymised,
    visible_events,
    with_state_entry_dates,
)
from parcours.selectors.notifications import notifications_for  # noqa: F401,E402
from parcours.selectors.participants import *  # noqa: F401,F403,E402
from parcours.selectors.referents import *  # noqa: F401,F403,E402
from parcours.selectors.tally import pathway_counts_for  # noqa: F401,E402

# isort: split
from parcours.selectors.employer import *  # noqa: F401,F403,E402
from parcours.selectors.register import *  # noqa: F401,F403,E402
from parcours.selectors.statements import *  # noqa: F401,F403,E402
