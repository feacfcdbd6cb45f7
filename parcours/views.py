def home(r): pass
def switch_organisation(r): pass
def participant_detail(r, pk): pass
def pathway_transition(r, pk, name): pass
def referral_detail(r, pk): pass
def referral_transition(r, pk, name): pass
def workflow_diagrams(r): pass
