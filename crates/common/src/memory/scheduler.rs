use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::ports::{ScheduleSpec, ScheduleState, Scheduler, SchedulerError};

#[derive(Debug, Default, Clone)]
pub struct MemoryScheduler {
    schedules: Arc<Mutex<BTreeMap<String, ScheduleSpec>>>,
}

impl MemoryScheduler {
    pub fn all(&self) -> Vec<ScheduleSpec> {
        self.schedules.lock().unwrap().values().cloned().collect()
    }
}

impl Scheduler for MemoryScheduler {
    async fn create(&self, spec: &ScheduleSpec) -> Result<(), SchedulerError> {
        let mut all = self.schedules.lock().unwrap();
        if all.contains_key(&spec.name) {
            return Err(SchedulerError::AlreadyExists(spec.name.clone()));
        }
        all.insert(spec.name.clone(), spec.clone());
        Ok(())
    }

    async fn update(&self, spec: &ScheduleSpec) -> Result<(), SchedulerError> {
        let mut all = self.schedules.lock().unwrap();
        let slot = all.get_mut(&spec.name).ok_or_else(|| SchedulerError::NotFound(spec.name.clone()))?;
        *slot = spec.clone();
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), SchedulerError> {
        self.schedules
            .lock()
            .unwrap()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| SchedulerError::NotFound(name.to_string()))
    }

    async fn get(&self, name: &str) -> Result<Option<ScheduleState>, SchedulerError> {
        Ok(self.schedules.lock().unwrap().get(name).map(|spec| ScheduleState { spec: spec.clone(), enabled: true }))
    }
}
