export { createAssignmentStore, isStateFileError, StateFileError, StoredAssignment, type AssignmentStore } from './assignment-store.ts';
